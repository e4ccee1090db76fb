-- A number that moves with every change to the packs, in the change's own
-- transaction: a process that keeps the packs on sale (backend::packages::
-- CatalogueCache) knows they are still current when the version it read
-- them at is the one a page's other read finds here (backend::account).
create table catalogue_version (
    only_row boolean primary key default true check (only_row),
    version bigint not null
);
insert into catalogue_version (version) values (1);

create function catalogue_changed() returns trigger
language plpgsql as $$
begin
    update catalogue_version set version = version + 1;
    return null;
end
$$;

create trigger catalogue_changed
    after insert or update or delete or truncate on credit_packages
    for each statement execute function catalogue_changed();
