"""Reacting to EMR's events (the EMR event handler) and following up a failed step's late log
(the step-log follow-up).

decisions: what an event means, the ledger, whether to notify; notices: the notices' text;
step_log_follow_up: the follow-up function's logic; follow_up_schedule: its one-time schedule;
reaction: what a reaction did and how it sends; settings: the functions' shared environment.
"""
