# All metadata lives in setup.cfg; this shim lets old pips and `python setup.py` work.
from setuptools import setup

setup()
