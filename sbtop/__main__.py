from sbtop.cli import main

raise SystemExit(main())
