from vaultnet.cli.main import main

raise SystemExit(main())
