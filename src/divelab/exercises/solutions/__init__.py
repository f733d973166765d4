"""The project's solutions with the exercises' signatures (adapters); never loaded in the sandbox."""
