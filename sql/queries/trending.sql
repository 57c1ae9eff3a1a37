-- Trending artists of the three timeframes, best first, in one statement.
--
--   $1, $2, $3  interval     the windows of the three timeframes (1 hour, 1 day, 7 days)
--   $4 as_of    timestamptz  the end of every window ("now")
--   $5 limit    int          artists per timeframe (50)
--
-- Returns up to $5 rows per timeframe: timeframe (1, 2 or 3: which window), rank, the factors and the score.
--
-- score = 10 x votes in the window (on the artist's songs)
--       +  5 x upcoming shows (the artist billed, not cancelled, dated as_of's UTC day or later)
--       +  2 x Spotify popularity (0-100)
--       +  followers / 100,000, capped at 100
--       +  3 x page views in the window
--       + recency bonus: 50 x (1 - age of the latest vote or view in the window / window), 0 without activity
-- Ties break on the artist id, so the order is stable. Artists scoring 0 are left out.
-- Arithmetic is float8 (numeric is several times slower on 100k rows).
-- Votes and views are read once, over the longest window, and counted per window with FILTER.
with recent_votes as (
    select s.artist_id,
           count(*) filter (where v.created_at > $4::timestamptz - $1::interval) as n1,
           count(*) filter (where v.created_at > $4::timestamptz - $2::interval) as n2,
           count(*) filter (where v.created_at > $4::timestamptz - $3::interval) as n3,
           max(v.created_at) filter (where v.created_at > $4::timestamptz - $1::interval) as l1,
           max(v.created_at) filter (where v.created_at > $4::timestamptz - $2::interval) as l2,
           max(v.created_at) filter (where v.created_at > $4::timestamptz - $3::interval) as l3
    from votes v
    join songs s on s.id = v.song_id
    where v.created_at > $4::timestamptz - greatest($1::interval, $2::interval, $3::interval)
      and v.created_at <= $4::timestamptz
    group by s.artist_id
),
recent_views as (
    select artist_id,
           count(*) filter (where viewed_at > $4::timestamptz - $1::interval) as n1,
           count(*) filter (where viewed_at > $4::timestamptz - $2::interval) as n2,
           count(*) filter (where viewed_at > $4::timestamptz - $3::interval) as n3,
           max(viewed_at) filter (where viewed_at > $4::timestamptz - $1::interval) as l1,
           max(viewed_at) filter (where viewed_at > $4::timestamptz - $2::interval) as l2,
           max(viewed_at) filter (where viewed_at > $4::timestamptz - $3::interval) as l3
    from artist_views
    where viewed_at > $4::timestamptz - greatest($1::interval, $2::interval, $3::interval)
      and viewed_at <= $4::timestamptz
    group by artist_id
),
upcoming as (
    select sa.artist_id, count(*) as shows
    from shows sh
    join show_artists sa on sa.show_id = sh.id
    where sh.date >= ($4::timestamptz at time zone 'UTC')::date and sh.status <> 'cancelled'
    group by sa.artist_id
),
factors as (
    select a.id, a.name, a.slug, a.image_url,
           coalesce(up.shows, 0) as upcoming_shows,
           5.0::float8 * coalesce(up.shows, 0) + 2.0::float8 * coalesce(a.popularity, 0)
           + least(coalesce(a.followers, 0)::float8 / 100000.0::float8, 100.0::float8) as base,
           coalesce(rv.n1, 0) as votes1, coalesce(rv.n2, 0) as votes2, coalesce(rv.n3, 0) as votes3,
           coalesce(vw.n1, 0) as views1, coalesce(vw.n2, 0) as views2, coalesce(vw.n3, 0) as views3,
           extract(epoch from $4::timestamptz - greatest(rv.l1, vw.l1))::float8 as age1,
           extract(epoch from $4::timestamptz - greatest(rv.l2, vw.l2))::float8 as age2,
           extract(epoch from $4::timestamptz - greatest(rv.l3, vw.l3))::float8 as age3
    from artists a
    left join recent_votes rv on rv.artist_id = a.id
    left join recent_views vw on vw.artist_id = a.id
    left join upcoming up on up.artist_id = a.id
),
scored as (
    select f.*,
           (base + 10.0::float8 * votes1 + 3.0::float8 * views1
            + coalesce(50.0::float8 * greatest(0.0::float8, 1.0::float8 - age1 / extract(epoch from $1::interval)::float8), 0.0::float8))::float8 as score1,
           (base + 10.0::float8 * votes2 + 3.0::float8 * views2
            + coalesce(50.0::float8 * greatest(0.0::float8, 1.0::float8 - age2 / extract(epoch from $2::interval)::float8), 0.0::float8))::float8 as score2,
           (base + 10.0::float8 * votes3 + 3.0::float8 * views3
            + coalesce(50.0::float8 * greatest(0.0::float8, 1.0::float8 - age3 / extract(epoch from $3::interval)::float8), 0.0::float8))::float8 as score3
    from factors f
)
(select 1 as timeframe, id, name, slug, image_url, upcoming_shows, votes1 as votes, views1 as views, score1 as score
 from scored where score1 > 0 order by score1 desc, id limit $5::int)
union all
(select 2, id, name, slug, image_url, upcoming_shows, votes2, views2, score2
 from scored where score2 > 0 order by score2 desc, id limit $5::int)
union all
(select 3, id, name, slug, image_url, upcoming_shows, votes3, views3, score3
 from scored where score3 > 0 order by score3 desc, id limit $5::int)
