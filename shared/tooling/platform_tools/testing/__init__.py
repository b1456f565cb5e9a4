"""The test harness every service uses: isolated real backing services, real processes,
and reusable contract tests. Loaded by pytest through the ``service_kit`` plugin."""
