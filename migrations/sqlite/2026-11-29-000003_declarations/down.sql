DROP TABLE declaration_counters;
DROP TABLE declaration_items;
DROP TABLE declarations;
