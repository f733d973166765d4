from divelab.cli import main

raise SystemExit(main())
