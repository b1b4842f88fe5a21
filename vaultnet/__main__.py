from vaultnet.cli import main

raise SystemExit(main())
