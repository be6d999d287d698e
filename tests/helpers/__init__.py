"""Plain helpers shared by test modules. Fixtures stay in conftest.py files, where pytest finds them;
no test module imports another test module or a conftest (tests/static/test_test_layout.py)."""
