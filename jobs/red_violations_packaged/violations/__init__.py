"""The red-violations job's own modules: shipped to the driver and the executors in the project's zip."""
