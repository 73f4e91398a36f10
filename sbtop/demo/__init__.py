"""The simulated StudyBuddy backend the tests and `sbtop demo` run against."""
