"""Placeholder: being written (issue 16).

TO THE PERSON WRITING THIS MODULE: first read /tmp/h/common.md — the rules of this task
(which files are yours, no git commits, the test and time budgets, and the README snippet
to leave in /tmp/h/readme-<name>.md). Then replace this whole file.
"""

EXPERIMENTS: list = []
