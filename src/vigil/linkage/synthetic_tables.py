"""The names, places and frequencies the synthetic population draws from.

Kept apart from the generator (:mod:`vigil.linkage.synthetic`) because they are data: lists
ordered from most to least common, spelling variants a person is recorded under, and
invented places. None of it is a real person or a real address (principle 5): towns are
invented, postcode areas start with ``Z`` (never Shetland's ``ZE``), phones come from
Ofcom's drama range and e-mail domains are example.*. The console benchmark draws its
names from here too.
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

# --------------------------------------------------------------------------------------
# Names: each list is ordered from most to least common within its group.
# --------------------------------------------------------------------------------------
_FIRST_MALE = {
    "british": """James John David Michael Paul Robert Andrew Peter Richard Mark Christopher
        Stephen Thomas William Daniel Matthew Anthony Simon Ian Gary Steven George Jonathan
        Edward Benjamin Samuel Joseph Alexander Charles Nicholas Martin Kevin Lee Adam Jack
        Oliver Harry Luke Craig Philip Graham Stuart Neil Timothy Colin Keith Alan Brian
        Raymond Kenneth Henry Frederick Arthur Jacob Ryan Nathan Liam Callum Jamie Dean
        Scott Shane Wayne Barry Trevor Derek Roger Geoffrey Malcolm Gordon Douglas Alistair
        Hamish Gareth Rhys Dylan Owen Gavin Toby Rupert Hugo Archie Alfie Freddie Theo Leo
        Oscar Reuben Elliot Harvey Lewis Jake Connor Kieran Bradley Mason Ethan Joshua Tyler""",
    "irish": """Sean Patrick Declan Ciaran Cian Conor Eoin Niall Padraig Fergal Oisin Darragh
        Ronan Colm Cathal Aidan Brendan Dermot Eamon Fintan Lorcan Tadhg Ruairi Donal
        Seamus Killian Diarmuid Cormac Senan Odhran""",
    "south_asian": """Mohammed Ali Ahmed Imran Hassan Bilal Usman Zain Faisal Tariq Amir Arjun
        Rahul Vikram Sanjay Rajesh Anil Sunil Ravi Deepak Harpreet Gurpreet Jaswinder
        Manpreet Sandeep Kamran Asif Shahid Naveed Adnan Rizwan Waqas Junaid Arif Sajid
        Pradeep Nikhil Rohan Aarav Vivek Krishna Ashok Mahesh Suresh Dinesh Ajay""",
    "arabic": """Mohammed Ahmed Omar Yusuf Ibrahim Khalid Hussein Mustafa Abdullah Hamza
        Karim Tariq Samir Nabil Walid Jamal Rashid Bashir Fadi Majid Sami Anas Ziad Adel
        Marwan Hisham Tamer Bilal Ammar Faris Abdulrahman Osman""",
    "african": """Oluwaseun Chinedu Emeka Tunde Kwame Kofi Kwabena Yaw Chukwuemeka Obinna
        Babatunde Femi Segun Ayodele Olumide Ikechukwu Nnamdi Abdi Abdirahman Abdullahi
        Mohamed Tendai Tafadzwa Sipho Thabo Jomo Kelechi Uchenna Adebayo Temitope""",
    "east_european": """Piotr Krzysztof Tomasz Pawel Marcin Michal Lukasz Jakub Mateusz
        Andrzej Wojciech Kamil Grzegorz Adrian Aleksander Bartosz Dawid Marek Jan Stefan
        Ion Andrei Mihai Vasile Gheorghe Bogdan Florin Darius Tomas Mindaugas Jonas Andrius
        Sergei Dmitri Aleksandr Vladimir Yuri Oleksandr Dmytro Nikolai""",
    "chinese": """Wei Jun Hao Lei Jie Ming Tao Bo Chao Yang Feng Gang Hui Jian Kai Long Peng
        Qiang Xin Yong Zhen Bin""",
}
_FIRST_FEMALE = {
    "british": """Sarah Emma Claire Laura Rebecca Elizabeth Susan Karen Nicola Helen Lisa
        Rachel Victoria Catherine Jennifer Amanda Joanne Louise Julie Michelle Charlotte
        Sophie Hannah Jessica Amy Lucy Emily Olivia Amelia Isla Ava Mia Grace Chloe Ella
        Lily Ellie Holly Megan Katie Gemma Kelly Samantha Natalie Alison Jacqueline Deborah
        Patricia Margaret Jean Sandra Pauline Carol Linda Christine Janet Gillian Wendy
        Angela Dawn Tracey Joanna Frances Alexandra Eleanor Harriet Imogen Phoebe Georgia
        Abigail Florence Freya Poppy Evie Matilda Rosie Daisy Esme Beatrice Jasmine Zoe
        Leah Bethany Kirsty Stacey Jade Danielle Abbie""",
    "irish": """Siobhan Niamh Aoife Ciara Orla Roisin Sinead Aisling Caoimhe Grainne Mairead
        Deirdre Eimear Clodagh Saoirse Maeve Aine Fionnuala Brid Nuala Sorcha Una Emer
        Blathnaid Ailbhe Orlaith Muireann Meabh Laoise Dearbhla""",
    "south_asian": """Fatima Aisha Ayesha Zainab Maryam Sana Hina Amna Nadia Saima Shazia
        Rubina Nasreen Samina Priya Pooja Anjali Sunita Neha Kavita Deepa Meena Rekha Asha
        Simran Harjit Kiran Jasleen Manjit Parveen Farah Rabia Iqra Mehreen Anika Divya
        Shreya Lakshmi Gita Nisha Sabrina Tahira Nazia Shabana Yasmin""",
    "arabic": """Fatima Mariam Aisha Layla Noor Zainab Huda Amira Salma Yasmin Rania Hana
        Lina Dalia Reem Samira Nadia Dina Leila Farida Khadija Safa Maha Asma Rasha Suha
        Hiba Jana Malak Rahaf Sara Lamia""",
    "african": """Chioma Ngozi Adaeze Funmilayo Folake Oluwakemi Yetunde Abena Akosua Ama
        Efua Adwoa Nneka Ifeoma Amaka Chiamaka Blessing Precious Faith Mercy Hodan Amina
        Hibo Fadumo Nomvula Thandiwe Zanele Wanjiru Achieng Temitayo""",
    "east_european": """Anna Katarzyna Malgorzata Agnieszka Magdalena Joanna Monika Ewa
        Aleksandra Natalia Karolina Justyna Marta Paulina Dorota Beata Ioana Elena Maria
        Andreea Mihaela Cristina Alina Raluca Ruta Egle Ieva Olga Irina Svetlana Tatiana
        Natasha Oksana Yulia Daria Kateryna""",
    "chinese": """Li Ying Mei Xiu Jing Yan Hong Fang Lan Min Na Ping Qing Rui Shu Ting Xia Yu
        Yun Zhi Hua Lian""",
}
_SURNAMES = {
    "british": """Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright
        Thompson Evans Walker White Roberts Green Hall Wood Jackson Clarke Thomas Harris
        Lewis Edwards Hughes Turner Hill Moore Cooper Ward Morris King Watson Harrison
        Morgan Baker Young Allen Wright Mitchell Anderson Lee Martin Parker Davis Bennett
        Phillips Shaw Cook Richardson Bailey Carter Collins Bell Cox Marshall Murray Simpson
        Ellis Adams Griffiths Stevens Chapman Russell Webb Hunt Mills Owen Palmer Holmes
        Mason Rogers Barnes Knight Lloyd Butler Fisher Fox Pearson Harvey Graham Hamilton
        Stewart Campbell Reid Robertson Ross Fraser Henderson Gibson Kerr Grant Duncan
        Cunningham Burns Scott Paterson Johnston Gray Ferguson Hughes Pritchard Rees Price
        Jenkins Powell Howells Vaughan Probert Bevan Kendrick Ashworth Hargreaves Sutcliffe
        Whitaker Lockwood Barraclough Pickering Fairclough Heywood Greenwood Brooks Dawson
        Atkinson Holt Booth Dixon Spencer Stone Payne Hayes Lawrence Sharp Newton Pearce
        Hodgson Farrell Gill Hart Chambers Cole Barker Pollard Whitehead Armstrong Berry
        Gardner Sanders Reynolds Ellison Goodwin Buckley Dean Lamb Holland Blake Coleman""",
    "irish": """Murphy Kelly OBrien Byrne Ryan OSullivan Walsh ONeill McCarthy Doyle Gallagher
        Doherty Kennedy Lynch Murray Quinn Moore McLaughlin Carroll Connolly Daly Connell
        Farrell Brennan Fitzgerald McDonald Reilly Maguire Nolan Keane Fitzpatrick Dunne
        Hennessy Kavanagh Donnelly McGrath Flanagan Boyle Sheehan Power""",
    "south_asian": """Khan Ahmed Ali Hussain Patel Singh Begum Akhtar Shah Iqbal Rahman Islam
        Mahmood Choudhury Bibi Hussein Malik Kaur Sharma Kumar Mistry Gill Sandhu Dhillon
        Sidhu Bains Grewal Chopra Kapoor Gupta Mehta Joshi Desai Nair Pillai Reddy Rao
        Siddiqui Qureshi Butt Chaudhry Raja Mirza Anwar Aslam Bashir Javed Rashid Aziz Sheikh""",
    "arabic": """Mohammed Ahmed Hassan Ali Ibrahim Mahmoud Abdullah Saleh Youssef Mustafa
        Khalil Haddad Nasser Abbas Hamdan Suleiman Mansour Farouk Aziz Darwish Hakim Jaber
        Karam Najjar Rahman Sabbagh Shami Tamimi Zaki Habib Khoury Awad Bakr Fayad Said""",
    "african": """Okafor Okonkwo Adeyemi Oyelaran Mensah Boateng Owusu Asante Osei Adebayo
        Eze Nwosu Obi Oladipo Ogunleye Afolabi Balogun Chukwu Appiah Agyeman Danso Farah
        Warsame Abdi Jama Hassan Omar Moyo Ncube Dlamini Nkosi Mwangi Otieno Kamau Achebe""",
    "east_european": """Nowak Kowalski Wisniewski Wojcik Kowalczyk Kaminski Lewandowski
        Zielinski Szymanski Wozniak Dabrowski Kozlowski Jankowski Mazur Kwiatkowski Krawczyk
        Piotrowski Grabowski Popescu Ionescu Popa Stan Dumitru Constantin Georgescu Stoica
        Kazlauskas Petrauskas Jankauskas Ivanov Petrov Smirnov Kuznetsov Popov Sokolov
        Kovalenko Shevchenko Bondarenko Horvat Novak""",
    "chinese": """Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo Lin He
        Gao Luo Zheng Liang Xie Tang Chan Wong Lee Lau Cheung Ng""",
}
_CULTURE_SHARE = {
    "british": 0.70,
    "irish": 0.06,
    "south_asian": 0.09,
    "arabic": 0.04,
    "african": 0.04,
    "east_european": 0.04,
    "chinese": 0.03,
}
_ZIPF_EXPONENT = 0.7  # flatter than 1: common names are common, without a handful dominating

# Spelling variants the same person is recorded under. Nicknames go from the full name;
# transliterations and spellings of one name in one group go either way.
_NICKNAMES = """Robert: Bob Rob Bobby Robbie; William: Bill Will Billy Liam;
    Elizabeth: Liz Beth Lizzie Betty; Margaret: Maggie Peggy Meg; James: Jim Jimmy Jamie;
    Richard: Rick Dick Richie; Michael: Mike Mick Mickey; Thomas: Tom Tommy;
    Edward: Ed Ted Eddie; Catherine: Cathy Kate Katie; Jennifer: Jen Jenny;
    Christopher: Chris Kit; Daniel: Dan Danny; Anthony: Tony Ant; Alexander: Alex Sandy;
    Samuel: Sam Sammy; Benjamin: Ben Benny; Joseph: Joe Joey; Susan: Sue Suzy;
    Patricia: Pat Trish Patsy; Rebecca: Becky Becca; Jonathan: Jon Jonny; Nicholas: Nick;
    Matthew: Matt; Andrew: Andy Drew; Stephen: Steve; Steven: Steve; Peter: Pete;
    David: Dave Davy; Victoria: Vicky Tori; Charlotte: Lottie Charlie; Deborah: Debbie Deb;
    Alexandra: Alex Lexi Sasha; Frances: Fran Frankie; Charles: Charlie Chas; Henry: Harry;
    John: Jack Johnny; Patrick: Paddy Pat; Philip: Phil; Timothy: Tim; Kenneth: Ken Kenny;
    Raymond: Ray; Frederick: Fred Freddie; Jacqueline: Jackie; Samantha: Sam Sammy;
    Abigail: Abbie Abby; Eleanor: Ellie Nell; Katarzyna: Kasia; Malgorzata: Gosia;
    Wojciech: Wojtek; Aleksander: Olek; Oluwaseun: Seun; Babatunde: Tunde;
    Chukwuemeka: Emeka; Oluwakemi: Kemi; Abdullahi: Abdi; Gillian: Jill Gill;
    Amanda: Mandy; Christine: Chris Tina; Natalie: Nat; Joanne: Jo; Joanna: Jo"""
_TRANSLITERATIONS = """Mohammed Muhammad Mohamed Mohammad Muhammed; Yusuf Yousef Youssef
    Yousuf; Ahmed Ahmad Ahmet; Hussein Hussain Husain Hossein; Omar Umar; Ali Aly;
    Mustafa Mostafa Moustafa; Ibrahim Ebrahim; Khalid Khaled; Hassan Hasan;
    Abdullah Abdallah; Abdulrahman Abdurrahman Abdul-Rahman; Abdirahman Abdurahman;
    Osman Othman Usman; Bashir Basheer; Rashid Rasheed; Fatima Fatimah Fatma;
    Aisha Ayesha Aysha; Mariam Maryam Miriam; Zainab Zaynab Zeinab; Layla Leila Laila;
    Noor Nour Nur; Yasmin Yasmine Jasmin; Khadija Khadijah; Choudhury Chowdhury Chaudhry;
    Rahman Rehman; Mahmood Mahmud Mahmoud; Siddiqui Siddiqi; Qureshi Kureshi; Zhang Chang;
    Chen Chan; Wang Wong; Li Lee; Liu Lau; Zhou Chow; Wu Woo; Aleksandr Alexander Oleksandr;
    Sergei Sergey; Dmitri Dmitry Dmytro; Yuri Yury Iouri; Nikolai Nikolay Mykola;
    Yulia Julia Iuliia; Tatiana Tatyana; Natasha Natasza; Sean Shaun Shawn; Siobhan Shevaun;
    Niamh Neve; Ruairi Rory; Cian Kian; Ciaran Kieran; OBrien O'Brien;
    OSullivan O'Sullivan; ONeill O'Neill; Lukasz Łukasz; Pawel Paweł; Michal Michał;
    Wojcik Wójcik; Wisniewski Wiśniewski"""


def _variant_table() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for group_text in _TRANSLITERATIONS.split(";"):
        group = group_text.split()
        for name in group:
            table.setdefault(name, []).extend(g for g in group if g != name)
    return {name: tuple(dict.fromkeys(others)) for name, others in table.items()}


def _nickname_table() -> dict[str, tuple[str, ...]]:
    pairs = (entry.split(":") for entry in _NICKNAMES.split(";"))
    return {full.strip(): tuple(nicks.split()) for full, nicks in pairs}


VARIANTS = _variant_table()
NICK = _nickname_table()

# --------------------------------------------------------------------------------------
# Places: invented towns, each with its own fictional postcode area.
# --------------------------------------------------------------------------------------
TOWNS = tuple(
    town.strip()
    for town in """Ashbridge, Kingsmere, Fallowfield, Thornbury, Marlow-on-Wye, Redhaven,
    Brackenford, Elmsworth, Hollingbrook, Stanmoor, Westcombe, Northallow, Oakhampstead,
    Ravensby, Castleford Mill, Penmarsh, Lydcombe, Sandholme, Greyfriars, Cressington, Dunmere,
    Harwick, Bramleigh, Kettlewick, Wolverleigh, Ambersley, Clayfield, Fenbury, Gorsewood,
    Hartsmere, Ivybridge Vale, Juniper Cross, Larkhill Green, Middlecote, Netherby, Otterworth,
    Pelham Down, Quarrybank, Rushden Marsh, Saltmere, Tollerton, Upminster Heath, Valebrook,
    Whitcombe, Yarrowdale, Easthope, Foxley, Glenmoor""".split(",")  # noqa: SIM905
)
AREA_LETTERS = "ABCDFGHJKLMNPQRSTUVWXY"  # second letter after Z (never ZE, Shetland)
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a real inward code may use
STREET_STEMS = """Mill Church Station Park Victoria High Manor Chapel School Queens Kings
    Albert Grove Oak Elm Ash Beech Willow Cedar Maple Hawthorn Holly Meadow Orchard Spring
    Brook River Bridge Castle Abbey Priory Market Green Hill Vale Valley Forest Heath Common
    Windmill Railway Canal Quarry Foundry Tannery Granary Chestnut Sycamore Rowan Birch Larch
    Poplar Laurel Ivy Primrose Bluebell Heather Clover Fern Moss Stone Flint Chalk Brick
    Tudor Stuart Windsor York Lancaster Warwick Kent Essex Devon Cornwall Somerset Dorset
    Norfolk Suffolk Alexandra Princess Prince Regent Duke Wellington Nelson Trafalgar Milton
    Shakespeare Chaucer Darwin Newton Cromwell Gladstone Churchill Cavendish Grosvenor
    Belmont Fairview Highfield Westfield Northfield Southfield Eastfield Springfield
    Greenfield Broad Long Short North South East West New Old Upper Lower Little Great
    Cross Moor Marsh Fen Lea Dale Croft Crown Anchor Swan Bell Lion Fox Badger Heron Kestrel
    Falcon Raven Lark Wren Robin Thrush Linnet Plover Curlew Osprey""".split()  # noqa: SIM905
STREET_KINDS = """Road Street Lane Avenue Close Drive Way Crescent Gardens Place Terrace
    Grove Court Walk Rise View Row Mews Hill Square""".split()  # noqa: SIM905
STREET_ABBREVIATIONS = dict(
    pair.split(":")
    for pair in """Road:Rd Street:St Lane:Ln Avenue:Ave Close:Cl Drive:Dr Crescent:Cres
    Gardens:Gdns Place:Pl Terrace:Terr Court:Ct Square:Sq""".split()  # noqa: SIM905
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
DRAMA_FIRST, DRAMA_COUNT = 900000, 1000  # Ofcom's 07700 900000-900999, for fiction
MONTHS = """January February March April May June July August September October November
    December""".split()  # noqa: SIM905


def _zipf_table(names: list[str]) -> tuple[list[str], list[float]]:
    unique = list(dict.fromkeys(names))
    weights = [1.0 / (rank + 1) ** _ZIPF_EXPONENT for rank in range(len(unique))]
    total = sum(weights)
    return unique, [w / total for w in weights]


def _mixed_table(lists: dict[str, str]) -> tuple[tuple[str, ...], list[float]]:
    """One cumulative table over every culture's list, weighted by the culture's share."""
    merged: dict[str, float] = {}
    for culture, text in lists.items():
        names, weights = _zipf_table(text.split())
        for name, weight in zip(names, weights, strict=True):
            merged[name] = merged.get(name, 0.0) + weight * _CULTURE_SHARE[culture]
    return tuple(merged), list(accumulate(merged.values()))


def _per_culture(lists: dict[str, str]) -> dict[str, tuple[tuple[str, ...], list[float]]]:
    out = {}
    for culture, text in lists.items():
        names, weights = _zipf_table(text.split())
        out[culture] = (tuple(names), list(accumulate(weights)))
    return out


MALE = _per_culture(_FIRST_MALE)
FEMALE = _per_culture(_FIRST_FEMALE)
SURNAME = _per_culture(_SURNAMES)
CULTURES = tuple(_CULTURE_SHARE)
CULTURE_CUM = list(accumulate(_CULTURE_SHARE.values()))
ANY_SURNAME = _mixed_table(_SURNAMES)


def pick(rng: random.Random, table: tuple[tuple[str, ...], list[float]]) -> str:
    names, cum = table
    return names[min(bisect(cum, rng.random() * cum[-1]), len(names) - 1)]


def culture_at(r: float) -> str:
    """The group a draw ``r`` in [0, 1) falls in, by the groups' shares of the population."""
    return CULTURES[min(bisect(CULTURE_CUM, r * CULTURE_CUM[-1]), len(CULTURES) - 1)]
