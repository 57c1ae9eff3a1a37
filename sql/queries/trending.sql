-- Trending artists of one timeframe, best first.
--
--   $1 window   interval     the timeframe (1 hour, 1 day, 7 days)
--   $2 as_of    timestamptz  the end of the window ("now")
--   $3 limit    int          how many artists (50)
--
-- score = 10 x votes in the window (on the artist's songs)
--       +  5 x upcoming shows (the artist billed, not cancelled, dated as_of's day or later)
--       +  2 x Spotify popularity (0-100)
--       +  followers / 100,000, capped at 100
--       +  3 x page views in the window
--       + recency bonus: 50 x (1 - age of the latest vote or view / window), 0 without activity
-- Ties break on the artist id, so the order is stable. Artists scoring 0 are left out.
with recent_votes as (
    select s.artist_id, count(*) as votes, max(v.created_at) as last_at
    from votes v
    join songs s on s.id = v.song_id
    where v.created_at > $2::timestamptz - $1::interval and v.created_at <= $2::timestamptz
    group by s.artist_id
),
recent_views as (
    select artist_id, count(*) as views, max(viewed_at) as last_at
    from artist_views
    where viewed_at > $2::timestamptz - $1::interval and viewed_at <= $2::timestamptz
    group by artist_id
),
upcoming as (
    select sa.artist_id, count(*) as shows
    from shows sh
    join show_artists sa on sa.show_id = sh.id
    where sh.date >= ($2::timestamptz at time zone 'UTC')::date and sh.status <> 'cancelled'
    group by sa.artist_id
),
scored as (
    select a.id, a.name, a.slug, a.image_url,
           coalesce(rv.votes, 0) as votes,
           coalesce(up.shows, 0) as upcoming_shows,
           coalesce(vw.views, 0) as views,
           coalesce(a.popularity, 0) as popularity,
           coalesce(a.followers, 0) as followers,
           10.0 * coalesce(rv.votes, 0)
           + 5.0 * coalesce(up.shows, 0)
           + 2.0 * coalesce(a.popularity, 0)
           + least(coalesce(a.followers, 0) / 100000.0, 100.0)
           + 3.0 * coalesce(vw.views, 0)
           + coalesce(50.0 * greatest(0.0, 1.0 - extract(epoch from $2::timestamptz - greatest(rv.last_at, vw.last_at))
                                               / extract(epoch from $1::interval)), 0.0)
             as score
    from artists a
    left join recent_votes rv on rv.artist_id = a.id
    left join recent_views vw on vw.artist_id = a.id
    left join upcoming up on up.artist_id = a.id
)
select id, name, slug, image_url, votes, upcoming_shows, views, popularity, followers,
       score::float8 as score,
       row_number() over (order by score desc, id) as rank
from scored
where score > 0
order by score desc, id
limit $3::int
