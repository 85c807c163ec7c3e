"""The agent runtime: supervised Trio actors, the model process, prompts, demo and conductor."""
