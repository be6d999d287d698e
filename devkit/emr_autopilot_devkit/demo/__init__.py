"""`make demo`: the sample jobs end to end on the local runtime, one module per part.

main runs the parts in order; runs holds what they share (a run's report, starting a run and reading it);
pipeline is parts 1-3, reaper part 4, spark part 5, livy part 6.
"""
