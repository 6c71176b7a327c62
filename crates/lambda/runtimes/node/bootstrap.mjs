# placeholder until the bootstrap lands
