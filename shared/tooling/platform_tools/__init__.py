"""The platform's tooling, apart from the runtime kit: the test harness and pytest plugin
(``testing``), the delivery validators (``testing.delivery``) and the benchmarks (``bench``).

Installed by the test requirements only; no service and no image imports it."""
