DROP TABLE officer_sites;
