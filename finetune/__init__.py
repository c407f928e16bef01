"""The `finetune` command line: dataset validation, scoring, the local rehearsal and operator commands."""
