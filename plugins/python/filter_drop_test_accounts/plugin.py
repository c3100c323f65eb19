"""filter_drop_test_accounts — drops HR events about internal test accounts.

A ``filter`` plugin written in Python with the Signalbox SDK (sdk/python).
The HR system's staging and QA teams create employees that must never
reach payroll, IT provisioning or the welcome mail. An event is *dropped*
when its JSON data describes such an account:

* ``employee.email`` (or a top-level ``email``) is in one of the test
  domains (``test_domains``), or its local part starts with one of the
  ``test_prefixes`` (``qa+``, ``test.``, …);
* ``employee.employee_id`` (or ``employee_id``) starts with one of the
  ``test_id_prefixes`` (``T-``);
* ``employee.test_account`` (or ``test_account``) is ``true``;
* the event has the extension ``testaccount=true``.

Everything else is kept, including events without data (there is nothing
that marks them as test traffic). Data declared as JSON that does not parse
is an error: an HR event we cannot read should be looked at, not silently
dropped or passed on.

Configuration:

=================== ======================================= ==============================
key                 default                                 meaning
=================== ======================================= ==============================
``test_domains``    ``test.example.com,example.test``        email domains of test accounts
``test_prefixes``   ``qa+,test.,test+``                      email local-part prefixes
``test_id_prefixes`` ``T-``                                  employee id prefixes
=================== ======================================= ==============================
"""

from signalbox import Config, Event, PluginError

TEST_DOMAINS = ["test.example.com", "example.test"]
TEST_PREFIXES = ["qa+", "test.", "test+"]
TEST_ID_PREFIXES = ["T-"]


def init(config: Config) -> None:
    global TEST_DOMAINS, TEST_PREFIXES, TEST_ID_PREFIXES
    config.expect_keys(["test_domains", "test_prefixes", "test_id_prefixes"])
    TEST_DOMAINS = [d.lower().lstrip("@") for d in config.list("test_domains", TEST_DOMAINS)]
    TEST_PREFIXES = [p.lower() for p in config.list("test_prefixes", TEST_PREFIXES)]
    TEST_ID_PREFIXES = config.list("test_id_prefixes", TEST_ID_PREFIXES)
    if not (TEST_DOMAINS or TEST_PREFIXES or TEST_ID_PREFIXES):
        raise PluginError("config: nothing identifies a test account; give test_domains, test_prefixes or test_id_prefixes")


def is_test_email(email: object) -> bool:
    if not isinstance(email, str) or "@" not in email:
        return False
    local, _, domain = email.strip().lower().rpartition("@")
    return (
        any(domain == d or domain.endswith("." + d) for d in TEST_DOMAINS)
        or any(local.startswith(p) for p in TEST_PREFIXES)
    )


def keep(event: Event) -> bool:
    if event.extension("testaccount") in (True, "true"):
        return False
    data = event.data_json() if event.is_json() else None
    if not isinstance(data, dict):
        return True
    employee = data.get("employee")
    if not isinstance(employee, dict):
        employee = data
    if employee.get("test_account") is True or data.get("test_account") is True:
        return False
    if is_test_email(employee.get("email")) or is_test_email(data.get("email")):
        return False
    employee_id = employee.get("employee_id", data.get("employee_id"))
    if isinstance(employee_id, str) and any(employee_id.startswith(p) for p in TEST_ID_PREFIXES):
        return False
    return True
