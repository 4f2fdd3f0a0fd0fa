"""The built-in Kling simulator (app label `simulator`), mounted at /_sim/kling/ when
KLING_PROVIDER=simulator.

It speaks Kling's legacy HTTP contract (docs/kling.md) so that the official client in
`generations.providers.kling` is the code under test in demo mode and in tests:

- `POST/GET /v1/videos/text2video`, `/v1/videos/image2video`, `/v1/images/generations`
  (create, list with pageNum/pageSize), `GET .../<task id or external_task_id>`,
  `GET /account/costs`; JWT (KLING_ACCESS_KEY/KLING_SECRET_KEY) or KLING_API_KEY auth.
  Like Kling accounts, each key sees only the tasks it created (lookups, lists,
  external ids, concurrency and costs), so holding the published demo keys shows nobody
  else's work.
- Task state follows from timestamps (SimFaults.queue_seconds / run_seconds, else
  SIMULATOR_QUEUE_SECONDS / SIMULATOR_RUN_SECONDS), so polling needs no background job.
- Callbacks are rows sent as they fall due by a daemon thread in the web process that feeds
  8 sender threads, each taking the next callback as soon as it is free (started on the
  first simulator request unless the setting SIMULATOR_CALLBACK_THREAD is off, as tests
  have it; tests send with `engine.deliver_due_callbacks()`); signed when
  KLING_WEBHOOK_SECRET is set.
  Only URLs under SITE_URL are called back (others are refused at create with 1201), and
  the simulator never fetches an image URL it is given: it cannot be used to reach other
  addresses from this server.
- Fault knobs live in the single `SimFaults` row (admin: "Simulator settings").
- Prompt triggers: `[sim:fail]` ends the task as failed (content-safety message),
  `[sim:refuse]` is refused at once with 400/1301.
- Results are real files under /_sim/kling/cdn/... (signed, expiring URLs), rendered on
  first download and cached in SIMULATOR_CACHE_DIR (default: a folder in the temp dir).

Django settings of its own, declared in settings.py (not environment variables):
SIMULATOR_API_KEYS (extra accepted API keys), SIMULATOR_CACHE_DIR, SIMULATOR_CALLBACK_THREAD.
"""
