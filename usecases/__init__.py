"""Use cases: what meshdash does for a person (write a release, judge a canary, read the weight
markers, drive a guided rollout), as plain classes and functions taking their collaborators
(stores, clock, identity, metrics). Views parse requests and shape answers around them;
usecases/assemble.py builds them from the app's Services, tests from fakes."""
