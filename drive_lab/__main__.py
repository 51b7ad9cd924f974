import sys

from .executors import start_worker_server_for

# A sweep with local workers: their server starts importing torch now, beside this process.
start_worker_server_for(sys.argv[1:])

from .cli import main  # noqa: E402  (after the server has started)

raise SystemExit(main())
