"""The Livy path: one Spark batch submitted through Apache Livy on an EMR cluster, tracked to its
end, and never left running unattended.

LivyBatchPipeline (statemachines/livy_batch.asl.json) calls one function per step, each with its
module here: resolve (livy_resolve), submit (livy_submit), status (livy_status), kill (livy_kill).
run_input is the pipeline's input, settings the functions' environment and Livy client, batch_call
what submit, status and kill share. The Livy janitor (emr_autopilot.livy_janitor) cleans up after a
stopped execution; emr_autopilot.livy_runs builds a run's input from a job definition (the CLI's).

boto3 is imported where AWS is called, not at the top: submit, status and kill talk only to Livy
unless it is unreachable, so their cold starts skip the SDK (about 120 ms).
"""
