"""Plugin discovery through entry points, and every way a plugin can be broken."""
import sys

import pluggy
import pytest

from iochost.host import hookimpl, load_plugins, make_plugin_manager
from iochost.host.plugins import IochostPluginManager

BROKEN = {
    "broken-import": "cannot import 'iochost_broken.import_error': ModuleNotFoundError: "
                     "No module named 'iochost_dependency_that_is_not_installed'",
    "broken-signature": "bad hook implementation: hookimpl definition: "
                        "iochost_register_iocs(register, device_count)",
    "broken-misspelt": "unknown hook 'iochost_regster_iocs' "
                       "(did you mean 'iochost_register_iocs'?)",
    "broken-registration": "iochost_register_iocs raised RuntimeError: device table is corrupt",
    "broken-conflict": "iochost_register_iocs: IOC 'test-counter' is already registered by "
                       "plugin 'testgood'",
    "broken-register-call": "iochost_register_iocs: IOC 'not-a-class' must be a class",
}


@pytest.fixture
def catalog(plugin_site, clean_env):
    return load_plugins()


def test_installed_distribution_is_discovered_with_what_it_provides(catalog):
    info = catalog.plugins["testgood"]
    assert (info.distribution, info.version, info.entry_point) == \
        ("iochost-testplugin-good", "1.2.3", "iochost_testgood.plugin")
    assert info.loaded and not info.builtin
    assert info.iocs == ["test-counter"] and info.helpers == ["test-recorder"]
    assert info.hooks == sorted(["iochost_register_iocs", "iochost_register_helpers",
                                 "iochost_host_started", "iochost_host_stopping",
                                 "iochost_ioc_mounted", "iochost_ioc_unmounted",
                                 "iochost_trapwrite", "iochost_web_routes"])
    from iochost_testgood.ioc import CounterIOC
    assert catalog.iocs["test-counter"].obj is CounterIOC
    assert catalog.iocs["test-counter"].plugin == "testgood"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_plugin_is_reported_by_name_with_its_reason(catalog, name):
    info = catalog.plugins[name]
    assert info.distribution == "iochost-testplugin-zz-broken"
    assert not info.loaded
    assert info.error.startswith(BROKEN[name]), info.error
    assert catalog.manager.get_plugin(name) is None  # unregistered: no hook of it will run


def test_broken_plugins_leave_the_others_loaded(catalog):
    assert {info.name for info in catalog.broken} == set(BROKEN)
    assert catalog.plugins["testgood"].loaded
    assert set(catalog.iocs) >= {"test-counter"}
    # what a plugin registered before it failed is remembered but never used
    assert catalog.plugins["broken-registration"].iocs == ["doomed"]
    assert "doomed" not in catalog.iocs
    assert catalog.iocs["test-counter"].plugin == "testgood"


def test_check_pending_passes_on_the_loaded_manager(catalog):
    catalog.manager.check_pending()


@pytest.mark.parametrize("how", ["argument", "environment", "distribution"])
def test_a_plugin_can_be_disabled(plugin_site, clean_env, monkeypatch, how):
    if how == "argument":
        catalog = load_plugins(blocked=["testgood"])
    elif how == "environment":
        monkeypatch.setenv("IOCHOST_DISABLE_PLUGINS", " broken-import, testgood ")
        catalog = load_plugins()
    else:
        catalog = load_plugins(blocked=["iochost-testplugin-good"])
    assert catalog.plugins["testgood"].disabled
    assert "iochost_testgood.plugin" not in sys.modules  # never imported
    # with the owner gone, the conflicting plugin is no longer in conflict
    assert catalog.plugins["broken-conflict"].loaded
    assert catalog.iocs["test-counter"].plugin == "broken-conflict"


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_autoload_can_be_switched_off(plugin_site, clean_env, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("IOCHOST_NO_AUTOLOAD", "1")
        catalog = load_plugins()
    else:
        catalog = load_plugins(disable_autoload=True)
    third_party = [info for info in catalog.plugins.values() if not info.builtin]
    assert third_party and all(info.disabled for info in third_party)
    assert all(info.loaded for info in catalog.plugins.values() if info.builtin)
    assert not catalog.broken


def test_the_manager_is_built_by_a_factory_not_at_import(clean_env):
    first = make_plugin_manager(disable_autoload=True)
    second = make_plugin_manager(disable_autoload=True)
    assert isinstance(first, IochostPluginManager) and first is not second
    assert first.hook.iochost_register_iocs.spec is not None
    assert first.plugin_info["iochost-builtins"].builtin
    assert first.get_plugin("iochost-builtins") is not None
    import iochost.host as host_package
    assert not any(isinstance(v, pluggy.PluginManager) for v in vars(host_package).values())


def record_types_plugin(**types):
    """A plugin object (registered directly, not through an entry point) whose
    iochost_register_record_types registers ``types``."""
    class Plugin:
        @staticmethod
        @hookimpl
        def iochost_register_record_types(register):
            for name, fields in types.items():
                register(name, fields)

        @staticmethod
        def iochost_register_helpers(register):  # unmarked but prefixed: still a hook
            register("inline-helper", lambda mount: None)

    return Plugin


@pytest.fixture
def fields_class():
    """A field-set class for a new record type; unregistered again afterwards."""
    from iochost.records import record_class, unregister_record

    class HostTestAiFields(record_class("ai")):
        _record_type = "hosttestai"

    yield HostTestAiFields
    unregister_record("hosttestai")


def test_record_types_reach_the_records_registry(clean_env, fields_class):
    from iochost.records import record_class

    plugin = record_types_plugin(hosttestai=fields_class)
    catalog = load_plugins(disable_autoload=True, extra_plugins={"inline": plugin})
    info = catalog.plugins["inline"]
    assert info.loaded and info.record_types == ["hosttestai"]
    assert info.helpers == ["inline-helper"]
    assert catalog.record_types["hosttestai"].plugin == "inline"
    assert record_class("hosttestai") is fields_class


@pytest.mark.parametrize("types, reason", [
    ({"hosttestai": object}, ("iochost_register_record_types: record type 'hosttestai': "
                             "<class 'object'> is not a field-set class")),
    ({"ai": "fields"}, "iochost_register_record_types: record type 'ai' is already defined"),
])
def test_a_bad_record_type_breaks_its_plugin_and_leaves_nothing(clean_env, fields_class,
                                                                types, reason):
    from iochost.records import registered_records

    if "ai" in types:
        types = {"hosttestai": fields_class, "ai": fields_class}   # the first gets rolled back
    catalog = load_plugins(disable_autoload=True,
                           extra_plugins={"inline": record_types_plugin(**types)})
    info = catalog.plugins["inline"]
    assert info.error.startswith(reason), info.error
    assert "hosttestai" not in registered_records() and not catalog.record_types
    assert not [helper for helper in catalog.helpers.values()   # all or nothing
                if helper.plugin == "inline"]


def test_registering_the_same_name_twice_breaks_only_that_plugin(clean_env):
    class Twice:
        @staticmethod
        @hookimpl
        def iochost_register_helpers(register):
            register("h", object)
            register("h", object)

    catalog = load_plugins(disable_autoload=True,
                           extra_plugins={"twice": Twice, "inline": record_types_plugin()})
    assert catalog.plugins["twice"].error == "iochost_register_helpers: helper 'h' registered " \
                                             "twice"
    assert catalog.plugins["inline"].loaded
