"""retrain_assets: retraining a tabular model as Dagster software-defined assets."""

import os

# scikit-learn's gradient boosting runs OpenMP threads that spin while they wait for work. A run
# worker shares its cores with the daemon, the code server and other runs, and there the spinning
# threads starve each other: the same 28,000-row fit took 0.9 s to 274 s on a 2-core machine,
# against about 2 s every time with passive waiting (bench/, item 4). Set before scikit-learn
# loads its OpenMP runtime; a value the user exported wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
