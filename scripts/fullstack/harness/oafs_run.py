#!/usr/bin/python3
"""List or run neutron fullstack tests by id.

  oafs_run.py list                  read selections from standard input, one a line:
                                    "MODULE [REGEX]" (the ids of neutron.tests.fullstack.MODULE
                                    that REGEX finds, scenarios expanded) or a whole test id;
                                    print the ids, one a line, each once. A selection that
                                    matches nothing is an error (a typo would run nothing).
  oafs_run.py run TEST_ID RESULT_JSON
                                    run that one test; write
                                    {"id", "status", "seconds", "error"} to RESULT_JSON
                                    (status pass | fail | skip; error: the exception's
                                    first line). Exit 0 when it passed or was skipped.
"""
import json
import re
import sys
import time
import unittest

PACKAGE = 'neutron.tests.fullstack'


def tests_of(module):
    def flatten(suite):
        for item in suite:
            if isinstance(item, unittest.TestSuite):
                yield from flatten(item)
            else:
                yield item
    # The modules' load_tests expands scenarios: test_x(VLANs), test_x(VXLAN)
    loaded = unittest.defaultTestLoader.loadTestsFromName(
        '%s.%s' % (PACKAGE, module))
    return list(flatten(loaded))


def first_error_line(text):
    """The line naming the exception that ended the test: the first line
    after the last traceback's frames (a chained exception's is the last)."""
    found = None
    in_frames = False
    for line in text.splitlines():
        # testtools hands a traceback over as the message of a
        # _StringException, so the marker need not start the line.
        if 'Traceback (most recent call last)' in line:
            in_frames = True
        elif in_frames and line and not line[0].isspace():
            found = line.strip()
            in_frames = False
    if found is None:
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        found = lines[-1] if lines else ''
    return found[:300]


class Recorder(unittest.TextTestResult):
    """Keeps the outcome of the one test it is given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.status = None
        self.error = ''

    def addSuccess(self, test):
        super().addSuccess(test)
        self.status = self.status or 'pass'

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.status = 'skip'
        self.error = 'skipped: %s' % reason

    def _failed(self, test, err):
        if self.status != 'fail':
            self.status = 'fail'
            self.error = first_error_line(self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._failed(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._failed(test, err)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.status = 'pass'

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._failed(test, (AssertionError,
                            AssertionError('unexpected success'), None))


def loaded(module, cache={}):
    if module not in cache:
        tests = tests_of(module)
        broken = [t for t in tests
                  if isinstance(t, unittest.loader._FailedTest)]
        if broken:
            # The loader turns an import error into a test failing with it.
            sys.exit('cannot load %s.%s: %s' % (PACKAGE, module,
                                                 broken[0]._exception))
        cache[module] = [t.id() for t in tests]
    return cache[module]


def list_tests(selections):
    printed = set()
    for line in selections:
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.startswith(PACKAGE + '.'):
            module = line[len(PACKAGE) + 1:].split('.', 1)[0]
            ids = [i for i in loaded(module) if i == line]
        else:
            module, _, pattern = line.partition(' ')
            rx = re.compile(pattern.strip() or '.')
            ids = [i for i in loaded(module) if rx.search(i)]
        if not ids:
            sys.exit('no fullstack test matches %r' % line)
        for test_id in ids:
            if test_id not in printed:
                printed.add(test_id)
                print(test_id)


def run_test(test_id, result_path):
    module = test_id[len(PACKAGE) + 1:].split('.', 1)[0]
    if not test_id.startswith(PACKAGE + '.') or not module:
        sys.exit('not a %s test id: %s' % (PACKAGE, test_id))
    import oafs_patch
    oafs_patch.framework()
    loaded(module)  # exits naming the import error if the module is broken
    chosen = [t for t in tests_of(module) if t.id() == test_id]
    if len(chosen) != 1:
        sys.exit('%d tests with the id %s in %s.%s (list them: oafs_run.py '
                 'list %s)' % (len(chosen), test_id, PACKAGE, module, module))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=Recorder)
    started = time.monotonic()
    result = runner.run(chosen[0])
    seconds = round(time.monotonic() - started, 1)
    status = result.status or 'fail'
    error = result.error or ('' if result.status else 'no outcome recorded')
    with open(result_path, 'w') as f:
        json.dump({'id': test_id, 'status': status, 'seconds': seconds,
                   'error': error}, f)
        f.write('\n')
    sys.exit(0 if status in ('pass', 'skip') else 1)


def main(argv):
    if argv == ['list']:
        list_tests(sys.stdin)
    elif len(argv) == 3 and argv[0] == 'run':
        run_test(argv[1], argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv[1:])
