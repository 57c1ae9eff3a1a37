-- TheSet schema: what the daemon syncs in, what the web app reads and writes.
--
-- Every sync is an idempotent upsert keyed on a provider id (or on a dedup key
-- for songs): re-running an import rewrites nothing and leaves updated_at alone.
-- gen_random_uuid() is built into PostgreSQL >= 13.

create table artists (
    id                 uuid primary key default gen_random_uuid(),
    slug               text not null unique,
    name               text not null,
    tm_attraction_id   text unique,
    spotify_id         text unique,
    setlistfm_mbid     text,
    tm_url             text,
    images             jsonb not null default '[]',
    image_url          text,
    genres             text[] not null default '{}',
    popularity         int,
    followers          bigint,
    upcoming_events    int,
    is_trending        boolean not null default false,
    trending_score     double precision not null default 0,
    trending_rank      int,
    view_count         bigint not null default 0,
    last_synced_at     timestamptz,          -- profile (Spotify) refresh
    catalog_synced_at  timestamptz,
    shows_synced_at    timestamptz,
    setlists_synced_at timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now()
);
create index artists_setlistfm_mbid_idx on artists (setlistfm_mbid);
create index artists_trending_idx on artists (is_trending, trending_rank);
create index artists_last_synced_idx on artists (last_synced_at nulls first);

-- One row per artist page view (the trending query counts recent ones);
-- artists.view_count is the all-time total.
create table artist_views (
    id         bigint generated always as identity primary key,
    artist_id  uuid not null references artists on delete cascade,
    viewed_at  timestamptz not null default now()
);
create index artist_views_viewed_at_idx on artist_views (viewed_at, artist_id);

create table venues (
    id                uuid primary key default gen_random_uuid(),
    tm_venue_id       text not null unique,
    name              text not null,
    city              text,
    state             text,
    country           text,
    address           text,
    postal_code       text,
    timezone          text,
    latitude          double precision,
    longitude         double precision,
    capacity          int,
    url               text,
    images            jsonb not null default '[]',
    details_synced_at timestamptz,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now()
);
create index venues_details_synced_idx on venues (details_synced_at nulls first);

-- artist_id is the artist whose import first brought the event in; every
-- artist billed on it (festivals, co-bills) is in show_artists.
create table shows (
    id          uuid primary key default gen_random_uuid(),
    tm_event_id text not null unique,
    artist_id   uuid not null references artists on delete cascade,
    venue_id    uuid references venues on delete set null,
    name        text not null,
    date        date,                      -- venue-local date; null while TBA
    time        time,                      -- venue-local start; null when unknown
    status      text not null,             -- onsale | offsale | cancelled | postponed | rescheduled
    url         text,
    view_count  bigint not null default 0,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
create index shows_artist_date_idx on shows (artist_id, date);
create index shows_date_idx on shows (date);
create index shows_venue_idx on shows (venue_id);

create table show_artists (
    show_id   uuid not null references shows on delete cascade,
    artist_id uuid not null references artists on delete cascade,
    primary key (show_id, artist_id)
);
create index show_artists_artist_idx on show_artists (artist_id, show_id);

-- The studio catalogue after the live filter and dedupe. dedup_key is
-- 'isrc:<ISRC>' or 'title:<normalised title>|<rounded duration s>'.
-- A song that drops out of the catalogue is retired, never deleted (votes
-- point at it).
create table songs (
    id                 uuid primary key default gen_random_uuid(),
    artist_id          uuid not null references artists on delete cascade,
    spotify_id         text,
    name               text not null,
    album              text,
    album_id           text,
    album_type         text,
    release_date       text,                 -- 'YYYY', 'YYYY-MM' or 'YYYY-MM-DD'
    duration_ms        int,
    popularity         int,
    isrc               text,
    dedup_key          text not null,
    track_number       int,
    explicit           boolean not null default false,
    is_live            boolean not null default false,
    catalog_removed_at timestamptz,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    unique (artist_id, dedup_key)
);
create index songs_spotify_id_idx on songs (spotify_id);
create index songs_isrc_idx on songs (isrc);

create table setlists (
    id            uuid primary key default gen_random_uuid(),
    setlistfm_id  text not null unique,
    artist_id     uuid not null references artists on delete cascade,
    show_id       uuid references shows on delete set null,
    venue_name    text not null,
    city          text,
    country       text,
    event_date    date not null,
    tour          text,
    url           text,
    song_count    int not null default 0,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now()
);
create index setlists_artist_date_idx on setlists (artist_id, event_date desc);
create index setlists_show_idx on setlists (show_id);

-- position is 1-based, in play order across all sets of the setlist.
create table setlist_songs (
    setlist_id   uuid not null references setlists on delete cascade,
    position     int not null,
    song_id      uuid references songs on delete set null,
    name         text not null,
    cover_artist text,
    is_tape      boolean not null default false,
    encore       int,
    set_index    int not null default 0,
    info         text,
    primary key (setlist_id, position)
);
create index setlist_songs_song_idx on setlist_songs (song_id);

-- Written by the web app; the trending query counts recent votes per show.
create table votes (
    id         uuid primary key default gen_random_uuid(),
    show_id    uuid not null references shows on delete cascade,
    song_id    uuid not null references songs on delete cascade,
    user_id    text not null,
    created_at timestamptz not null default now(),
    unique (show_id, song_id, user_id)
);
create index votes_created_at_idx on votes (created_at, show_id);
create index votes_show_created_idx on votes (show_id, created_at);
create index votes_song_idx on votes (song_id);

create table import_status (
    id               uuid primary key default gen_random_uuid(),
    tm_attraction_id text not null,
    artist_id        uuid null references artists on delete set null,
    status           text not null check (status in ('queued', 'running', 'completed', 'failed')),
    stage            text not null default 'queued',
    progress         int not null default 0 check (progress between 0 and 100),
    message          text not null default '',
    counts           jsonb not null default '{}',
    error            text null,
    owner            text null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    completed_at     timestamptz null
);
-- At most one live import per attraction: a second kickoff finds the first.
create unique index import_status_active_attraction_idx
    on import_status (tm_attraction_id) where status in ('queued', 'running');
create index import_status_status_updated_idx on import_status (status, updated_at);
create index import_status_attraction_idx on import_status (tm_attraction_id, created_at desc);
