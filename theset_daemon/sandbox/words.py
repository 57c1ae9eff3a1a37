"""Word lists the generator draws names from (studio titles never carry live markers)."""

ADJECTIVES = (
    "Silver Golden Paper Electric Quiet Restless Hollow Velvet Broken Northern Southern Crimson Amber Wild "
    "Gentle Burning Frozen Distant Hidden Lonely Bright Dark Empty Endless Fading Falling Glass Heavy Honest "
    "Lucky Midnight Neon Open Painted Plastic Rusty Sacred Secret Silent Slow Soft Static Stolen Sudden Sweet "
    "Tender Twisted Violet Wandering Wicked Young Copper Marble Scarlet Iron"
).split()
NOUNS = (
    "Lantern Harbor River Engine Garden Mirror Shadow Signal Season Island Ocean Window Thunder Summer Winter "
    "Highway Letter Ghost Ribbon Feather Canyon Echo Fever Horizon Kingdom Machine Meadow Mountain Orchard "
    "Parade Planet Radio Rocket Sparrow Station Stranger Sunset Tide Valley Wolf Anchor Arrow Bridge Candle "
    "Circus Comet Crown Desert Diamond Dream Empire Forest Heart Lighthouse Marigold Compass Harvest"
).split()
VERBS = "Chasing Holding Finding Leaving Burning Dancing Running Waiting Falling Calling Breaking Carry Follow Hold Bring".split()
FIRST_NAMES = "Ava Ben Clara Dan Eli Fiona Gus Hana Ivan Jade Kai Lena Milo Nora Otis Pia Quinn Rosa Sam Tess Uma Vic Wren".split()
LAST_NAMES = "Abbott Brooks Carter Dalton Ellis Fraser Garner Hayes Irving Jensen Keller Lowe Mercer Novak Ortega Pryce".split()
GENRES = "indie rock,alt-country,synthpop,folk,post-punk,dream pop,britpop,soul,hard rock,indie pop".split(",")

#: Studio songs whose titles contain "live" without being live recordings.
LIVE_WORD_TITLES = ("Live Forever", "Live and Let Die", "Alive", "Olive", "Live Wire", "Live It Up", "I Live My Life for You")

#: Live album names (album-level markers) and track suffixes (title-level markers).
LIVE_ALBUM_NAMES = (
    "Live at Wembley Stadium", "Live in Paris", "Live from Austin, TX", "Live at the BBC", "MTV Unplugged",
    "Unplugged in New York", "Live at Madison Square Garden", "Live in Tokyo", "Live from the Fillmore",
    "Live at Red Rocks", "Live in Berlin", "Live at the Royal Albert Hall",
)
LIVE_TRACK_SUFFIXES = (
    " - Live", " (Live)", " [Live]", " - Live Version", " (Live Version)", " - Live at Wembley Stadium, London / 1986",
    " - Live from Spotify London", " - Live in Paris", " - MTV Unplugged", " (Unplugged)",
)

CITIES = (
    # name, state, state code, country, country code, timezone, lat, long
    ("Los Angeles", "California", "CA", "United States Of America", "US", "America/Los_Angeles", 34.05, -118.24),
    ("New York", "New York", "NY", "United States Of America", "US", "America/New_York", 40.71, -74.0),
    ("Chicago", "Illinois", "IL", "United States Of America", "US", "America/Chicago", 41.88, -87.63),
    ("Austin", "Texas", "TX", "United States Of America", "US", "America/Chicago", 30.27, -97.74),
    ("Denver", "Colorado", "CO", "United States Of America", "US", "America/Denver", 39.74, -104.99),
    ("Seattle", "Washington", "WA", "United States Of America", "US", "America/Los_Angeles", 47.61, -122.33),
    ("Nashville", "Tennessee", "TN", "United States Of America", "US", "America/Chicago", 36.16, -86.78),
    ("Boston", "Massachusetts", "MA", "United States Of America", "US", "America/New_York", 42.36, -71.06),
    ("Atlanta", "Georgia", "GA", "United States Of America", "US", "America/New_York", 33.75, -84.39),
    ("Toronto", "Ontario", "ON", "Canada", "CA", "America/Toronto", 43.65, -79.38),
    ("Long Beach", "California", "CA", "United States Of America", "US", "America/Los_Angeles", 33.77, -118.19),
    ("London", None, None, "Great Britain", "GB", "Europe/London", 51.51, -0.13),
    ("Manchester", None, None, "Great Britain", "GB", "Europe/London", 53.48, -2.24),
    ("Berlin", None, None, "Germany", "DE", "Europe/Berlin", 52.52, 13.4),
    ("Paris", None, None, "France", "FR", "Europe/Paris", 48.86, 2.35),
)
VENUE_PATTERNS = ("{noun} Hall", "The {adj} {noun} Theatre", "{city} Arena", "{adj} {noun} Ballroom", "{noun} Amphitheatre", "The {noun} Room")
COVERED_ARTISTS = ("The Beatles", "David Bowie", "Fleetwood Mac", "Prince", "Talking Heads", "Bruce Springsteen")
COVERED_SONGS = ("Twist and Shout", "Heroes", "Dreams", "Purple Rain", "Psycho Killer", "Dancing in the Dark")
