#!/opt/aar/venv/bin/python
"""The deploy image's `aar` command: as the `aar` user (a root shell from `docker-compose exec` drops to
it, without any capability; not on Ray's nodes, which run as root), with AAR_DATABASE_URL built from the
db service's settings."""

import os
import sys

if os.getuid() == 0 and os.environ.get("AAR_STAY_ROOT") != "1":  # Ray's nodes run it as root (compose.yaml)
    drop = ["--reuid=aar", "--regid=aar", "--init-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    os.execvp("setpriv", ["setpriv", *drop, "--", sys.executable, *sys.argv])

from aar.deploy.dburl import export_database_url  # noqa: E402

export_database_url()

from aar.cli import main  # noqa: E402

sys.exit(main())
