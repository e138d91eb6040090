"""The scenario suite that judges a brain by the database: caller scripts from YAML, run through the same
turn path as a call (`manage.py eval_agent`), each judged by the rows it left, not by the words it said."""
