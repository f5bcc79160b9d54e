"""Validation of prediction models, built on the survival engine only.

Frozen models (``frozen_model``), external validation measures and random-effects
pooling across centres (``external``), internal validation by bootstrap optimism
and internal-external cross-validation (``internal``), and the simulation of an
external validation's precision by its size (``sample_size``).
"""
