"""Reacting to EMR on EKS's events (the EMR on EKS event handler), as emr_serverless_reactions does for EMR
Serverless.

decisions: what an event means, the ledger, whether to notify; notices: the notices' text; reaction: what a
reaction did and what DescribeJobRun said about the job run; settings: the handler's environment. Sending and the
log tail are shared with the other reactions (emr_event_reactions.reaction.send, step_logs.read_tail).
"""
