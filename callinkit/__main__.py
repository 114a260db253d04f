from callinkit.cli import main

raise SystemExit(main())
