"""``iochost_trapwrite`` through an installed plugin (the test plugin distribution): a
TRAPWRITE put by a real CA client reaches its hook implementation."""
import sys
import textwrap

from iochost.host import Host, load_config_text, load_plugins
from iochost.testing import wait_until


def test_an_installed_plugin_hears_trapped_writes(plugin_site, clean_env, ca_server, pyepics,
                                                  unique_prefix, tmp_path):
    catalog = load_plugins(blocked=["broken-import"])
    rules = tmp_path / "site.acf"
    rules.write_text("ASG(DEFAULT) { RULE(1, READ) RULE(1, WRITE, TRAPWRITE) }\n")
    config = load_config_text(textwrap.dedent(f"""\
        host: {{name: t, status_prefix: null}}
        access: {{file: {rules}}}
        mounts:
          - {{name: c, ioc: test-counter, prefix: '{unique_prefix}', options: {{start: 5}}}}
        """), "trap.yaml", environ={})
    host = Host(config, catalog, server=ca_server.server)
    ca_server.call(host.start())
    events = sys.modules["iochost_testgood.plugin"].EVENTS
    try:
        name = unique_prefix + "COUNT"
        assert wait_until(lambda: pyepics.caget(name, timeout=2) == 5)
        assert pyepics.caput(name, 8, wait=True, timeout=5) == 1
        assert wait_until(lambda: [e for e in events if e.startswith("trapwrite")], 5)
        trapped = [e for e in events if e.startswith("trapwrite")]
        assert trapped[0].startswith(f"trapwrite {name} ")
        assert trapped[0].endswith(" 5 -> 8")
    finally:
        ca_server.call(host.stop())
