from punchclock.cli import main

raise SystemExit(main())
