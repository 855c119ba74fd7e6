"""The sweep engine: `sweep` (sweep.py) computes, `SweepResult` (result.py)
holds and saves; program.py is the compiled program, checks.py the argument
checks, checkpoint.py the checkpoint folder."""
