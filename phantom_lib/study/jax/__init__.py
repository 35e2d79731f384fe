"""The JAX engine: what a learner sees (:mod:`.view`), PPO and A2C (:mod:`.actor_critic`), DQN and the Q-learner
(:mod:`.q`), the registry (:mod:`.learners`) and batches of trials as compiled programs (:mod:`.engine`).

Importing this package does not load jax; its modules do.
"""
