"""Development harnesses shared by the tests, the benchmarks and the API snapshot: a real
Prometheus backfilled with promtool, the integration scenarios, a live app server. The app never
imports this package."""
