from voxelle_app.cli import main

raise SystemExit(main())
