"""Chapter exercises (to be written)."""

from divelab.exercises.spec import Exercise

EXERCISES: list[Exercise] = []
