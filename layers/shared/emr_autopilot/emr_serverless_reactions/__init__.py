"""Reacting to EMR Serverless's events (the EMR Serverless event handler).

decisions: what an event means, the ledger, whether to notify; notices: the notices' text; reaction: what a
reaction did and what GetJobRun said about the job run; settings: the handler's environment. Sending and the
log tail are the EMR event reactions' (emr_event_reactions.reaction.send, step_logs.read_tail).
"""
