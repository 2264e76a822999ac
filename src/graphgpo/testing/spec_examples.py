"""SPEC.md's worked examples, as data, with the expected numbers copied from the page."""

EXAMPLE_1 = {
    "group": [0] * 9,
    "trajectory": [0, 0, 0, 1, 1, 2, 2, 2, 2],
    "state": list("ABCACADBB"),
    "next_state": list("BCXCYDBBC"),
    "success": [1, 1, 1, 1, 1, 0, 0, 0, 0],
    "valid": [1, 1, 1, 1, 1, 1, 0, 1, 1],
}
EXPECTED_1 = {
    ("grpo", ()): [0.84326, 0.84326, 0.84326, 0.84326, 0.84326, -1.049343, -1.068269, -1.049343, -1.049343],
    ("gigpo", ()): [1.375674, 1.99796, 0.84326, 1.464409, 0.84326, -2.202906, -1.068269, -1.626693, -1.626693],
    ("graphgpo", ()): [0.625042, 1.42061, 0.84326, 1.934349, 0.84326, -1.922214, -1.068269, -2.204043,
                       -0.471993],
    ("graphgpo", (("convention", "paper"), ("episode_stats", "per_trajectory"))): [
        0.359133, 1.1547, 0.57735, 1.668438, 0.57735, -2.027571, -1.1547, -2.309399, -0.577351],
}

EXAMPLE_2 = {
    "group": [0] * 11,
    "trajectory": [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3],
    "state": list("ZABZACZDEZA"),
    "next_state": list("ABWACCDEWAC"),
    "action": ["left", "go", "fin", "left", "go", "wait", "right", "fwd", "fin", "left", "go"],
    "success": [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0],
}
EXPECTED_2 = {
    "shortest": [0.870388, 2.025088, 0.870388, -1.044466, -1.621816, -1.044466, 0.870388, 0.870388, 0.870388,
                 -1.044466, -1.621816],
    "expected": [0.370389, 2.025088, 0.870388, -1.544465, -1.621816, -1.044466, 2.370387, 0.870388, 0.870388,
                 -1.544465, -1.621816],
}

# Worked example 3 (ProGPO): the rows of example 1, and two groups with costs, one without a success.
EXPECTED_PROGPO_1 = {
    (): [-1.225009, 2.911529, 2.911529, 2.911529, 2.911529, -3.117612, -3.136538, -3.117612, 1.018926],
    (("episode_stats", "per_trajectory"),): [
        -1.57735, 2.732051, 2.732051, 2.732051, 2.732051, -3.309401, -3.309401, -3.309401, 1.0],
}
EXAMPLE_3 = {
    "group": [0, 0, 0, 0, 0, 1, 1, 1, 1],
    "trajectory": [0, 0, 1, 1, 1, 2, 2, 3, 3],
    "state": list("ABACBPQPP"),
    "next_state": list("BXCBXQRPR"),
    "success": [1, 1, 1, 1, 1, 0, 0, 0, 0],
    "valid": [1, 1, 1, 1, 1, 1, 1, 0, 1],
    "cost": [1.0, 2.0, 1.0, 0.5, 2.0, 1.0, 1.0, 1.0, 1.0],
}
EXPECTED_PROGPO_3 = [1.0, 1.0, 0.5, 1.0, 1.0, 0.49999, 0.49999, -3.99994, 0.49999]
