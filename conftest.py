"""The project's root conftest: nothing here; the run's selection hooks are in the plugin
(fixtures/selection.py), so plans outside this checkout behave the same."""
