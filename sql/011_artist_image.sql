-- The artist image the images phase chose, checked and measured.
alter table artists
    add column image_width int,
    add column image_height int,
    add column image_checked_at timestamptz;
