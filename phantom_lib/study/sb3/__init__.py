"""The stable-baselines3 engine: learners (:mod:`.learners`), the tabular Q-learner (:mod:`.qlearning`), reference
policies (:mod:`.policies`) and evaluation in the gym env (:mod:`.evaluate`)."""
