"""Instruction and preference data for SFT and DPO (generated, with held-out splits)."""
