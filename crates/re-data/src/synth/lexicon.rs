//! Word lists of the synthetic KLUE-RE generator, written for kre (no KLUE text). Organisation and person names are
//! invented by combining parts, so any resemblance to real entities is accidental; place names, religions and job
//! titles are ordinary Korean vocabulary.
//!
//! Every list is non-empty (the generator indexes them without checks); `lexicon_lists_are_non_empty` tests that.

/// Korean family names (one or two syllables).
pub const SURNAMES: &[&str] = &[
    "김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황", "안", "송", "류", "전",
    "홍", "고", "문", "양", "손", "배", "백", "허", "유", "남", "심", "노", "하", "곽", "성", "차", "주", "우", "구", "민",
    "진", "나", "지", "엄", "채", "원", "천", "방", "공", "현", "남궁", "황보", "제갈", "선우",
];

/// Korean given names (two syllables).
pub const GIVEN_NAMES: &[&str] = &[
    "민준", "서준", "도윤", "예준", "시우", "하준", "주원", "지호", "지후", "준우", "준서", "건우", "현우", "우진", "선우",
    "연우", "유준", "정우", "승우", "승현", "시윤", "준혁", "은우", "지환", "승민", "지우", "유찬", "윤우", "민성", "준영",
    "서연", "서윤", "지유", "서현", "민서", "하은", "하윤", "윤서", "지민", "채원", "지원", "수아", "지아", "다은", "은서",
    "예은", "수빈", "소율", "예린", "지안", "영수", "영호", "정훈", "성민", "동현", "상철", "광수", "미경", "은정", "혜진",
    "경숙", "순자", "영자", "명숙", "재석", "종국", "태호", "형돈", "창민", "병철", "두환", "대중", "영삼", "기현", "용준",
    "보영", "혜수", "정민", "성훈", "태양", "진영", "한결", "가람", "나래", "보람", "슬기", "아름", "초롱", "한별", "다솜",
];

/// Foreign person names in Hangul transliteration (given, family).
pub const FOREIGN_GIVEN: &[&str] = &[
    "존", "마이클", "데이비드", "제임스", "로버트", "윌리엄", "토마스", "찰스", "조지", "에밀리", "사라", "안나", "마리아",
    "엘리자베스", "피터", "폴", "앤드루", "니콜라", "프랑수아", "한스", "카를", "이반", "세르게이", "다니엘", "루카스",
];
pub const FOREIGN_FAMILY: &[&str] = &[
    "스미스", "존슨", "브라운", "테일러", "윌슨", "데이비스", "밀러", "클라크", "해리슨", "마르탱", "뒤부아", "뮐러",
    "슈미트", "베버", "페트로프", "이바노프", "로시", "가르시아", "로페스", "마르티네스", "앤더슨", "톰슨", "화이트",
];

/// Stage names, pen names and nicknames (objects of `per:alternate_names`).
pub const STAGE_NAMES: &[&str] = &[
    "하늘", "별이", "제이", "케이", "에이스", "루나", "미르", "가온", "다온", "라온", "새봄", "한울", "소라", "여름",
    "바다", "이든", "노을", "단비", "마루", "온새미로", "해솔", "빛나", "은하", "달빛", "초이", "레오", "제로", "빅보이",
    "리틀킹", "철의 여인", "국민 MC", "피겨 여왕", "작은 거인", "바람의 아들", "미스터 스마일", "J.K.", "DJ 하루",
];

/// Name parts of invented organisations: (Hangul, romanised) for building English alternate names and initials.
pub const ORG_STEMS: &[(&str, &str)] = &[
    ("한빛", "Hanbit"),
    ("누리", "Nuri"),
    ("대성", "Daesung"),
    ("세종", "Sejong"),
    ("미래", "Mirae"),
    ("동방", "Dongbang"),
    ("청암", "Cheongam"),
    ("태평양", "Taepyeongyang"),
    ("새한", "Saehan"),
    ("금강", "Geumgang"),
    ("백두", "Baekdu"),
    ("한결", "Hangyeol"),
    ("온누리", "Onnuri"),
    ("푸른", "Pureun"),
    ("하나로", "Hanaro"),
    ("다올", "Daol"),
    ("가람", "Garam"),
    ("솔빛", "Solbit"),
    ("유성", "Yuseong"),
    ("동진", "Dongjin"),
    ("제일", "Jeil"),
    ("신성", "Shinsung"),
    ("태영", "Taeyoung"),
    ("보람", "Boram"),
    ("우리누리", "Urinuri"),
    ("하늘빛", "Haneulbit"),
    ("성진", "Seongjin"),
    ("경인", "Gyeongin"),
    ("한길", "Hangil"),
    ("새벽", "Saebyeok"),
    ("은하", "Eunha"),
    ("정인", "Jeongin"),
    ("국제", "Gukje"),
    ("대한", "Daehan"),
    ("아람", "Aram"),
    ("비전", "Vision"),
    ("코스모", "Cosmo"),
    ("넥스트", "Next"),
    ("블루", "Blue"),
    ("그린", "Green"),
];

/// Company suffixes: (Hangul, English).
pub const COMPANY_SUFFIXES: &[(&str, &str)] = &[
    ("전자", "Electronics"),
    ("건설", "Construction"),
    ("제약", "Pharmaceutical"),
    ("소프트", "Soft"),
    ("엔터테인먼트", "Entertainment"),
    ("은행", "Bank"),
    ("증권", "Securities"),
    ("자동차", "Motors"),
    ("항공", "Airlines"),
    ("화학", "Chemical"),
    ("식품", "Foods"),
    ("통신", "Telecom"),
    ("중공업", "Heavy Industries"),
    ("물산", "Trading"),
    ("게임즈", "Games"),
    ("미디어", "Media"),
    ("바이오", "Bio"),
    ("출판사", "Publishing"),
    ("생명", "Life"),
    ("해운", "Shipping"),
];

/// Suffixes of music groups, bands and idol groups.
pub const GROUP_NAMES: &[&str] = &[
    "블루문", "레드캡", "스타라이트", "화이트노이즈", "선셋보이즈", "문라이트", "하이파이브", "세븐스타", "오렌지캬라멜",
    "나이트버스", "실버라인", "더 로드", "페퍼민트", "라이징썬", "에코즈", "퍼플레인", "트윙클", "은빛날개", "봄여름가을",
    "골든아워", "미드나잇", "크림슨", "플래닛", "스카이하이",
];

/// Sports team nicknames (after a city name: `부산 XX`).
pub const TEAM_NICKNAMES: &[&str] = &[
    "돌핀스", "타이거즈", "이글스", "파이터스", "썬더스", "유니콘스", "레오파즈", "블루윙즈", "스틸러스", "드래곤즈",
    "위너스", "히어로즈", "갈매기", "팔콘스", "킹스",
];

/// Leagues, federations and alliances (objects of `org:member_of`, subjects of `org:members`).
pub const LEAGUES: &[&str] = &[
    "한국프로축구연맹", "한국야구위원회", "대한농구협회", "아시아축구연맹", "국제올림픽위원회", "동아시아경제협력기구",
    "세계관광기구", "국제배구연맹", "한국게임산업협회", "전국경제인연합회", "한국음악저작권협회", "세계무역기구",
    "북대서양조약기구", "유럽연합", "국제연합", "아시아개발은행", "한국방송협회", "대한체육회", "한국기자협회",
];

/// Political parties (invented) and the short names used for them.
pub const PARTIES: &[(&str, &str)] = &[
    ("새한국민주당", "새민주당"),
    ("미래통합연대", "통합연대"),
    ("국민희망당", "희망당"),
    ("정의미래당", "정미당"),
    ("한국녹색당", "녹색당"),
    ("자유시민연합", "시민연합"),
    ("민생개혁당", "개혁당"),
    ("새벽노동당", "노동당"),
    ("통일평화당", "평화당"),
    ("국민중도연합", "중도연합"),
];

/// Religions (typed ORG, as KLUE does for most religion mentions).
pub const RELIGIONS: &[&str] =
    &["불교", "천주교", "개신교", "원불교", "이슬람교", "유교", "힌두교", "성공회", "정교회", "천도교", "대종교"];

/// Universities and schools (suffix after an [`ORG_STEMS`] or a city name).
pub const SCHOOL_SUFFIXES: &[&str] = &["대학교", "대학교", "고등학교", "예술고등학교", "과학기술원", "외국어대학교", "음악대학"];

/// Broadcasters, newspapers and public bodies.
pub const MEDIA_AND_PUBLIC: &[&str] = &[
    "한국중앙방송", "새한일보", "동방신문", "국민경제신문", "미래뉴스", "한빛방송", "경인일보", "통계청", "기상청",
    "문화체육관광부", "외교부", "국방부", "대검찰청", "서울중앙지방법원", "국가정보원", "한국은행", "국립중앙박물관",
    "한국개발연구원", "국립국어원", "대한적십자사", "환경운동연합", "국경없는의사회",
];

/// Korean cities and provinces.
pub const KOREAN_PLACES: &[&str] = &[
    "서울", "부산", "대구", "인천", "광주", "대전", "울산", "세종", "수원", "전주", "춘천", "제주", "강릉", "포항", "청주",
    "천안", "목포", "여수", "안동", "경주", "원주", "창원", "김해", "진주", "군산", "속초", "통영", "경기도", "강원도",
    "충청북도", "충청남도", "전라북도", "전라남도", "경상북도", "경상남도", "제주도", "서울 마포구", "서울 강남구",
    "부산 해운대구", "대구 수성구", "인천 연수구", "경기도 성남시", "경기도 고양시", "경상남도 거제시",
];

/// Countries.
pub const COUNTRIES: &[&str] = &[
    "한국", "미국", "일본", "중국", "프랑스", "독일", "영국", "캐나다", "호주", "브라질", "러시아", "이탈리아", "스페인",
    "베트남", "인도", "멕시코", "네덜란드", "스웨덴", "노르웨이", "튀르키예", "이집트", "아르헨티나", "필리핀", "태국",
    "몽골", "폴란드", "그리스", "포르투갈", "벨기에", "스위스", "뉴질랜드", "칠레", "북한", "대만",
];

/// Foreign cities.
pub const FOREIGN_CITIES: &[&str] = &[
    "뉴욕", "파리", "도쿄", "런던", "베를린", "로스앤젤레스", "베이징", "상하이", "오사카", "시드니", "토론토", "로마",
    "마드리드", "모스크바", "하노이", "방콕", "뭄바이", "빈", "프라하", "암스테르담", "시카고", "보스턴", "홍콩", "싱가포르",
];

/// Job titles and roles (objects of `per:title`, type POH).
pub const TITLES: &[&str] = &[
    "대표이사", "회장", "사장", "부회장", "감독", "코치", "교수", "가수", "배우", "국회의원", "작가", "시인", "기자",
    "아나운서", "국무총리", "장관", "대변인", "이사장", "주장", "투수", "공격수", "골키퍼", "영화감독", "작곡가", "프로듀서",
    "대통령", "시장", "도지사", "위원장", "총장", "원장", "변호사", "검사", "판사", "의사", "연구원", "소설가", "화가",
    "래퍼", "모델", "코미디언", "야구선수", "축구선수", "피아니스트", "지휘자", "최고경영자", "사무총장", "편집장",
];

/// Word pairs for titles of albums, books, films and songs (`per:product`, `org:product`).
pub const WORK_FIRST: &[&str] = &[
    "푸른", "바람의", "기억의", "마지막", "작은", "붉은", "하얀", "잊혀진", "우리들의", "먼", "빛나는", "고요한", "그해",
    "낯선", "너의", "끝없는", "첫",
];
pub const WORK_SECOND: &[&str] = &[
    "밤", "노래", "조각", "여름", "정원", "편지", "약속", "계절", "도시", "바다", "이야기", "꿈", "기차", "섬", "시간",
    "별", "겨울", "사랑",
];

/// Product lines of companies (`org:product`): a stem is put before these.
pub const PRODUCT_LINES: &[&str] = &[
    "폰", "패드", "북", "워치", "OS", "클라우드", "페이", "톡", "맵", "라면", "콜라", "세단", "SUV", "백신", "TV", "에어컨",
    "냉장고", "카드", "보험", "게임",
];

/// Words that describe a person before the name ("가수 출신의 김민준").
pub const PERSON_DESCRIPTORS: &[&str] = &[
    "가수 출신의", "전 국가대표", "신인 배우", "베테랑 기자", "원로 작가", "젊은 감독", "인기 방송인", "유명 요리사",
    "국가대표 출신", "인권 변호사", "중견 배우", "청년 사업가", "노벨상 수상자인", "은퇴한 야구선수", "독립운동가",
];

/// Words that describe an organisation before its name ("국내 최대 게임 회사인 …").
pub const ORG_DESCRIPTORS: &[&str] = &[
    "국내 최대 규모의", "업계 2위인", "글로벌 기업", "중견 기업", "지역 대표 기업인", "창립 50주년을 맞은", "신생 스타트업",
    "공공기관인", "비영리 단체인", "세계적인", "대형", "외국계", "코스닥 상장사", "전통 있는",
];
