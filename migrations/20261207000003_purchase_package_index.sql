-- The admin table filtered by status and package, newest first: at a
-- million purchases the status index walked 70,000 rows of other packages
-- for one page (issue #13, docs/PERFORMANCE.md). Package alone already has
-- `credit_purchases_package_created_idx`.
create index credit_purchases_status_package_created_idx
    on credit_purchases (status, package_code, created_at desc, id desc);
