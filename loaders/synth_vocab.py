"""Words for synthetic movies: genres with MovieLens frequencies, title parts, tags."""

import numpy as np

# MovieLens 25M genre counts over 62k movies (Drama is in 41% of them, IMAX in 0.3%)
_GENRE_COUNTS = {
    "Action": 7348, "Adventure": 4145, "Animation": 2929, "Children": 2935, "Comedy": 16870,
    "Crime": 5319, "Documentary": 5605, "Drama": 25606, "Fantasy": 2731, "Film-Noir": 353,
    "Horror": 5989, "IMAX": 195, "Musical": 1054, "Mystery": 2925, "Romance": 7719,
    "Sci-Fi": 3595, "Thriller": 8654, "War": 1874, "Western": 1399,
}  # fmt: skip
GENRES = tuple(_GENRE_COUNTS)
GENRE_WEIGHTS = np.array(list(_GENRE_COUNTS.values()), dtype=float)

# share of each star value 0.5, 1.0, ..., 5.0 in MovieLens 25M
RATING_SHARES = np.array([1.57, 3.11, 1.60, 6.64, 5.03, 19.6, 12.6, 26.6, 8.48, 14.4])
RATING_SHARES = RATING_SHARES / RATING_SHARES.sum()

_GENERIC = ["atmospheric", "classic", "visually appealing", "great soundtrack", "overrated", "boring"]
GENRE_TAGS: dict[str, list[str]] = {
    "Action": ["explosions", "car chase", "martial arts", "fight scenes"],
    "Adventure": ["treasure hunt", "epic journey", "exotic locations"],
    "Animation": ["pixar", "anime", "stop motion", "beautiful animation"],
    "Children": ["family", "kids", "talking animals"],
    "Comedy": ["funny", "hilarious", "dark comedy", "quirky"],
    "Crime": ["heist", "mafia", "gangsters", "police"],
    "Documentary": ["true story", "nature", "history", "interviews"],
    "Drama": ["emotional", "tearjerker", "character study", "slow"],
    "Fantasy": ["magic", "dragons", "fairy tale"],
    "Film-Noir": ["noir", "femme fatale", "black and white"],
    "Horror": ["scary", "gore", "zombies", "haunted house"],
    "IMAX": ["imax", "3d", "spectacle"],
    "Musical": ["singing", "dance", "broadway"],
    "Mystery": ["twist ending", "whodunit", "detective"],
    "Romance": ["love story", "romantic", "chick flick"],
    "Sci-Fi": ["space", "time travel", "dystopia", "aliens", "robots"],
    "Thriller": ["suspense", "tense", "psychological"],
    "War": ["world war ii", "vietnam", "anti-war"],
    "Western": ["cowboys", "gunfight", "frontier"],
    "": _GENERIC,  # movies without genres
}
for _tags in list(GENRE_TAGS.values()):
    _tags.extend(_GENERIC[:2])

_ADJECTIVES = [
    "Last",
    "Silent",
    "Broken",
    "Hidden",
    "Golden",
    "Dark",
    "Lost",
    "Secret",
    "Wild",
    "Crimson",
    "Eternal",
    "Forgotten",
    "Burning",
    "Frozen",
    "Midnight",
    "Little",
    "Great",
    "Strange",
    "Bitter",
    "Sweet",
    "Lonely",
    "Final",
    "Blue",
    "Red",
    "Savage",
    "Quiet",
]
_NOUNS = [
    "Road",
    "River",
    "Night",
    "Summer",
    "Winter",
    "Garden",
    "House",
    "Kingdom",
    "Shadow",
    "Promise",
    "Storm",
    "Island",
    "City",
    "Heart",
    "Dream",
    "Stranger",
    "Mountain",
    "Empire",
    "Letter",
    "Journey",
    "Mirror",
    "Harbor",
    "Witness",
    "Orchard",
    "Frontier",
    "Machine",
    "Daughter",
    "Son",
    "Detective",
    "Horizon",
    "Ghost",
    "Station",
    "Game",
    "Carnival",
    "Voyage",
]
_NAMES = [
    "Anna",
    "Max",
    "Rosa",
    "Jack",
    "Lena",
    "Oscar",
    "Vera",
    "Tom",
    "Nina",
    "Felix",
    "Clara",
    "Leo",
    "Ivy",
    "Hugo",
    "Mia",
    "Sam",
]
_PLACES = [
    "Paris",
    "Tokyo",
    "Berlin",
    "Texas",
    "Rome",
    "Brooklyn",
    "Mars",
    "Casablanca",
    "Vienna",
    "Shanghai",
    "Memphis",
]
_PATTERNS = (
    "The {adj} {noun}",
    "{noun} of {place}",
    "{adj} {noun}s",
    "{name}'s {noun}",
    "The {noun}, the {noun2} and {name}",
    "{noun} {n}",
    'The "{adj}" {noun}',
    "A {noun} in {place}",
    "{name} and the {adj} {noun}",
    "{adj} {noun}: Part {n}",
)


def titles(rng: np.random.Generator, count: int) -> list[str]:
    """`count` made-up titles (some with commas, quotes and colons, as real titles have)."""
    pattern = rng.choice(len(_PATTERNS), count, p=[0.2, 0.12, 0.12, 0.1, 0.06, 0.1, 0.03, 0.1, 0.09, 0.08])
    words = {
        "adj": rng.choice(_ADJECTIVES, count),
        "noun": rng.choice(_NOUNS, count),
        "noun2": rng.choice(_NOUNS, count),
        "name": rng.choice(_NAMES, count),
        "place": rng.choice(_PLACES, count),
        "n": rng.integers(2, 5, count),
    }
    return [
        _PATTERNS[p].format(**{key: values[i] for key, values in words.items()})
        for i, p in enumerate(pattern)
    ]
