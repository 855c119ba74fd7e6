"""The sweep engine: `run_lane` (lane.py) is one trajectory, `sweep`
(sweep.py) runs a grid × starts of them through one compiled program
(program.py); checks.py checks the arguments, checkpoint.py keeps a
checkpoint folder, processes.py makes processes agree, and `SweepResult`
(result.py) holds and saves the results."""
